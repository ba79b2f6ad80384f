"""What the benchmark asks and training never does: held-out wordings of every operation, of
clock questions and of requests to declared functions, held-out chit-chat, and the "first
messages" set — what a new user types first. No training module imports this one, and
`tests/test_bench_held_out.py` checks that no prompt built from it is ever a training prompt
(the recipe's whole corpus). `inference.bench_sets` builds the problems."""

# Arithmetic, by operation; {a} {b} as in `wordings.EVERYDAY_OPS`.
OPS = {
    "*": ["What do you get when you multiply {a} by {b}?", "{a} times {b} equals what?",
          "Find the product of {a} and {b}, please.", "If one box holds {b} items, how many items are in {a} boxes?",
          "Could you do {a} times {b}?"],
    "+": ["Take {a} and add {b} to it.", "I have {a} apples and buy {b} more. How many apples do I have now?",
          "What do {a} and {b} add up to?", "Combine {a} with {b}: what total do you get?",
          "Increase {a} by {b}."],
    "-": ["Take {b} away from {a}.", "How much is left if I take {b} from {a}?", "{a} less {b} makes what?",
          "Decrease {a} by {b}.", "What is the result of {a} minus {b}, please?"],
    "/": ["Split {a} into {b} equal parts: how big is each?", "How many times does {b} go into {a}?",
          "Share {a} among {b} people equally. How much does each get?", "What is {a} shared equally by {b}?"],
}
PERCENT = ["What's {p}% of {n}?", "Find {p} percent of {n}.", "I save {p}% on {n} dollars. How much is that?",
           "How much is {p}% of {n}, roughly exactly?"]
POWER = ["What is {a} to the {b}th power?", "Compute {a} to the power of {b}, please.", "Raise {a} to the {b}th."]
HALF = ["What's one half of {a}?", "Cut {a} in half. What do you get?", "What is {a} divided in two?"]
UNIT_DOWN = ["{q} {big} is how many {small}?", "How many {small} are there in {q} {big}?",
             "Turn {q} {big} into {small}."]
ZONE_QUESTIONS = ["What's the local time in {city}?", "Tell me the time over in {city}.",
                  "Is it late in {city}? What time is it there?", "{city} time right now?"]
# Function requests: by kind of value (`wordings.NATURAL_REQUESTS`).
NATURAL = {
    "city": ["What is the {what} in {v} right now?", "Tell me about the {what} over in {v}."],
    "person": ["Please pull up the {what} that belongs to {v}.", "Look into {v} and {verb} the {what}."],
    "id": ["Any news on {v}? I'd like the {what}.", "Regarding {v}: {verb} the {what}, thanks."],
}
CHAT = {
    "greeting": ["hello, anyone home?", "Heya! Good to see you.", "good morning to you", "Hi hi :)"],
    "thanks": ["Thanks, that helped a lot!", "thank you kindly", "Brilliant, cheers mate."],
    "identity": ["So what exactly are you?", "Can you tell me what you are good at?", "Are you an AI or a person?"],
    "unservable": ["Please book a taxi to the airport.", "Write my homework essay for me.",
                   "Can you order groceries for tomorrow?", "Wake me up at six."],
}

# The first messages of a new user: (kind, prompt, what is expected). Arithmetic gives the
# calculator's expression; a clock question the city's zone; a declared function its tool as
# (name, description, parameter, its kind of value), the call's value and the tool's output.
FIRST_MESSAGES = [
    ("chat", "hello hello, who is this?", None), ("chat", "Hey! How's your day going?", None),
    ("chat", "good evening, assistant", None), ("chat", "Hi, I'm new here.", None),
    ("chat", "thanks so much!", None), ("chat", "That's great, thank you very much.", None),
    ("chat", "what are you exactly?", None), ("chat", "Are you a real person?", None),
    ("chat", "What kinds of things can you do for me?", None), ("chat", "What is your purpose?", None),
    ("chat", "Can you book me a table for two tonight?", None), ("chat", "Send a text to my sister.", None),
    ("chat", "Write a cover letter for a job.", None), ("chat", "Please order me a coffee.", None),
    ("arithmetic", "How much is 3 times 7 exactly?", "3 * 7"), ("arithmetic", "What's 15% of 80?", "80 * 15 / 100"),
    ("arithmetic", "Compute 2^10", "2 ** 10"), ("arithmetic", "What's 12 times 12, please?", "12 * 12"),
    ("arithmetic", "I bought 4 shirts at 23 dollars each. What did I spend?", "4 * 23"),
    ("arithmetic", "whats 250 minus 87", "250 - 87"), ("arithmetic", "What is 20 percent of 350, please?", "350 * 20 / 100"),
    ("arithmetic", "How many minutes are there in 5 hours?", "5 * 60"), ("arithmetic", "What's half of 486?", "486 / 2"),
    ("arithmetic", "1200 divided among 8 people is how much each?", "1200 / 8"),
    ("arithmetic", "Add 19 and 46 and tell me the total.", "19 + 46"), ("arithmetic", "What's 7 to the power of 3?", "7 ** 3"),
    ("clock", "What time is it in Lisbon right now, please?", "Europe/Lisbon"),
    ("clock", "Hey, what's the time in Tokyo?", "Asia/Tokyo"), ("clock", "What time is it now in New York?", "America/New_York"),
    ("clock", "What's the date today, please?", ""), ("clock", "what time is it at the moment", ""),
    ("clock", "Tell me the current time in Sydney, thanks.", "Australia/Sydney"),
    ("function", "What is the weather in Lisbon right now?",
     (("get_weather", "Get the current weather for a city.", "city", "city"), "Lisbon",
      '{"temperature": 19, "conditions": "sunny"}')),
    ("function", "Where is my order ORD-88121?",
     (("get_order_status", "Look up an order's status.", "order_id", "id"), "ORD-88121",
      '{"status": "shipped", "eta": "2 days"}')),
    ("function", "Find the phone number of Priya.",
     (("find_contact", "Find a contact by name.", "name", "person"), "Priya", '{"phone": "555-0134"}')),
    ("function", "Track parcel 4471-2290-8 for me.",
     (("track_parcel", "Track a parcel by its tracking number.", "tracking_number", "id"), "4471-2290-8",
      '{"status": "in transit", "location": "Porto"}')),
    ("function", "Is it raining in Oslo?",
     (("get_weather", "Get the current weather for a city.", "city", "city"), "Oslo",
      '{"temperature": 4, "conditions": "rainy"}')),
    ("function", "Can you check ticket TK-5520?",
     (("check_ticket", "Check a support ticket.", "ticket_id", "id"), "TK-5520", '{"status": "open"}')),
]
