"""The words gpt-oss-nano's conversations are made of: request wordings, answer templates, the
parts builder tools are named from, and the out-of-domain prompts (those the benchmark asks
apart). `problems`, `arithmetic`, `builder_tools` and `generator` assemble conversations from
them; changing a list changes the corpus and the benchmark (`tests/test_nano_corpus.py` pins
both)."""

OPS = {
    "*": ("times", "product", ["{a} * {b}", "{a} times {b}", "{a} x {b}", "{a} multiplied by {b}"],
          ["Multiply {a} by {b}.", "What is the product of {a} and {b}?"]),
    "+": ("plus", "sum", ["{a} + {b}", "{a} plus {b}"],
          ["Add {a} and {b}.", "What is the sum of {a} and {b}?"]),
    "-": ("minus", "difference", ["{a} - {b}", "{a} minus {b}"],
          ["Subtract {b} from {a}.", "What is {a} take away {b}?"]),
    "/": ("divided by", "quotient", ["{a} / {b}", "{a} divided by {b}"],
          ["Divide {a} by {b}.", "What is the quotient of {a} and {b}?"]),
}
QUESTION_FORMS = ["What is {e}?", "what is {e}?", "What's {e}?", "Compute {e}.", "Calculate {e}",
                  "How much is {e}?", "{e} = ?", "{e}?", "Please compute {e}.", "Can you work out {e}?",
                  "Quick question: what is {e}?", "I need {e}."]
FOLLOW_UPS = {
    "*": ["And times {c}?", "Now multiply that by {c}.", "and times {c}?", "Multiply it by {c}.",
          "What about times {c}?"],
    "+": ["And plus {c}?", "Now add {c}.", "Add {c} to that.", "and plus {c}?", "What if we add {c}?"],
    "-": ["And minus {c}?", "Now subtract {c}.", "Take {c} away from that.", "and minus {c}?"],
    "/": ["And divided by {c}?", "Now divide that by {c}.", "Divide it by {c}."],
}
ARITH_FINALS = ["{e} = {r}.", "The answer is {r}.", "{e} is {r}.", "{r}", "It comes to {r}.",
                "Result: {r}."]

CITY_ZONES = {
    "Paris": "Europe/Paris", "London": "Europe/London", "Berlin": "Europe/Berlin",
    "Madrid": "Europe/Madrid", "Rome": "Europe/Rome", "Tokyo": "Asia/Tokyo", "Seoul": "Asia/Seoul",
    "Singapore": "Asia/Singapore", "Dubai": "Asia/Dubai", "Sydney": "Australia/Sydney",
    "New York": "America/New_York", "Chicago": "America/Chicago",
    "Los Angeles": "America/Los_Angeles", "Toronto": "America/Toronto",
}
TIME_QUESTIONS = ["What time is it?", "what time is it?", "What's the time?", "Tell me the current time.",
                  "Do you know what time it is?", "Current time please."]
ZONE_TIME_QUESTIONS = ["What time is it in {city}?", "What's the time in {city}?",
                       "Tell me the current time in {city}.", "what time is it in {city} right now?",
                       "What time is it in {zone}?"]
DATE_QUESTIONS = ["What is today's date?", "What's the date today?", "What day is it today?",
                  "Which day of the week is it?", "what is the date?", "Tell me today's date."]

OUT_OF_DOMAIN = [
    "Write a poem about the sea.", "Who won the World Cup in 2018?", "Translate hello into French.",
    "Tell me a joke.", "What is the capital of Australia?", "Summarize the plot of Hamlet.",
    "Can you write a Python function that sorts a list?", "What should I cook tonight?",
    "Explain quantum physics simply.", "Who are you?", "Write a short story about a dragon.",
    "What is the meaning of life?", "Recommend a good book.", "How do I fix my bike?",
    "Give me travel tips for Japan.", "What is love?", "Sing me a song.", "Draw a cat.",
    "Hello!", "Hi there", "What's the best programming language?", "Describe the color blue.",
    "How tall is Mount Everest?", "Write an email to my boss asking for a day off.",
    "What do you think about politics?", "Teach me Spanish.", "Why is the sky blue?",
    "How are you today?", "Play chess with me.", "Who painted the Mona Lisa?",
]
# Templated out-of-domain requests, so that "not a tool request" is learned from many wordings
# rather than from thirty memorised prompts. No filler is a word of the held-out prompts.
OOD_TEMPLATES = [
    "Write a {form} about {topic}.", "Can you write a {form} about {topic}?",
    "Tell me a {form} about {topic}.", "Who {did} the {thing}?",
    "What is the capital of {country}?", "Translate {word} into {language}.",
    "How do I {task}?", "Give me tips for {activity}.", "Recommend a good {media}.",
    "Explain {concept} simply.", "What do you think about {topic}?",
    "Describe {topic}.", "Teach me {language}.", "Why do {creatures} {behave}?",
    "{greeting}", "Summarize {work}.", "Who wrote {work}?",
]
OOD_FILLERS = {
    "form": ["poem", "story", "song", "joke", "short essay", "letter", "speech", "riddle", "ballad"],
    "topic": ["the sea", "dogs", "the moon", "friendship", "a dragon", "winter", "coffee", "the city",
              "robots", "a forest", "the stars", "music", "a lighthouse", "my grandmother", "spring"],
    "did": ["discovered", "built", "painted", "designed", "named", "found"],
    "thing": ["Eiffel Tower", "pyramids", "light bulb", "printing press", "penicillin", "Great Wall",
              "airplane", "radio", "Statue of Liberty"],
    "country": ["France", "Japan", "Brazil", "Kenya", "Italy", "Peru", "Norway", "Egypt", "India",
                "Mexico", "Chile", "Spain"],
    "word": ["hello", "thank you", "friend", "water", "love", "cheese", "house", "good night"],
    "language": ["French", "Spanish", "Italian", "Japanese", "Korean", "Portuguese", "Dutch"],
    "task": ["fix my bike", "bake bread", "learn to swim", "tie a tie", "grow tomatoes",
             "write a resume", "clean my oven", "train my dog"],
    "activity": ["hiking", "cooking", "studying", "gardening", "public speaking", "camping", "sleeping"],
    "media": ["book", "podcast", "album", "board game", "video game", "TV show"],
    "concept": ["quantum physics", "gravity", "photosynthesis", "inflation", "black holes",
                "evolution", "democracy", "electricity"],
    "creatures": ["birds", "cats", "whales", "bees", "dogs", "owls"],
    "behave": ["sing", "sleep so much", "migrate", "dance", "purr", "howl"],
    "greeting": ["Hello!", "Hi there", "Hey!", "Good evening!", "How are you today?", "Who are you?",
                 "Thanks!", "Nice to meet you."],
    "work": ["Hamlet", "Moby Dick", "The Odyssey", "Pride and Prejudice", "War and Peace"],
}
# Out-of-domain prompts the benchmark asks; training never sees them.
OUT_OF_DOMAIN_HELD_OUT = [
    "Write a haiku about autumn.", "Who invented the telephone?", "Translate goodbye into German.",
    "Tell me a fun fact.", "What is the capital of Canada?", "Explain how rainbows form.",
    "Write a limerick about a cat.", "What is your favorite movie?", "Give me advice on running.",
    "Good morning!", "Describe a sunset.", "Who wrote Don Quixote?",
]
OOD_FINALS = [
    "I am gpt-oss-nano, a tiny demo model, and I cannot help with that. I can do arithmetic with "
    "the calculator, tell the date and time with the clock, and call the tools the developer declares.",
    "Sorry, that is beyond what I can do. I am a tiny demo model: I can calculate, tell the date and "
    "time, and call the developer's tools.",
    "I cannot answer that reliably. I am gpt-oss-nano, trained only to calculate, read the clock and "
    "call declared tools.",
]

# Builder-defined tools: names and parameters are assembled from these parts. `split` keeps
# some combinations out of training so the benchmark can test tools the model never saw.
VERBS = {"get": "get", "lookup": "look up", "find": "find", "check": "check", "fetch": "fetch",
         "create": "create", "cancel": "cancel", "book": "book", "track": "track", "list": "list",
         "search": "search", "send": "send", "update": "update", "reserve": "reserve",
         "schedule": "schedule", "convert": "convert", "add": "add", "remove": "remove",
         "rate": "rate", "open": "open", "close": "close", "play": "play", "estimate": "estimate",
         "validate": "validate", "register": "register", "start": "start", "stop": "stop"}
NOUNS = ["weather", "order", "flight", "stock", "price", "recipe", "package", "invoice", "ticket",
         "user", "account", "room", "movie", "song", "train", "hotel", "forecast", "balance",
         "meeting", "reminder", "task", "note", "email", "payment", "shipment", "table", "car",
         "book", "course", "event", "playlist", "device", "route", "quote", "review", "coupon",
         "doctor", "parcel", "rental", "subscription", "delivery", "appointment", "currency", "unit"]
NAME_SUFFIXES = ["", "", "", "status", "info", "details", "price", "time", "count", "summary", "list",
                 "history", "report", "options", "settings", "overview", "rate", "schedule", "notes"]
# Parameter names are a base and a suffix from open-ended lists: with few combinations a tiny
# model learns which suffixes follow each base in training and, given a held-out combination,
# writes a training one instead of copying the declaration (`title` for `title_name`).
PARAM_BASES = ["city", "date", "country", "order", "customer", "user", "item", "product", "amount",
               "quantity", "size", "color", "code", "language", "currency", "unit", "zone", "room",
               "seat", "day", "month", "year", "level", "limit", "name", "title", "query", "topic",
               "category", "priority", "duration", "distance", "weight", "account", "guests",
               "nights", "rating", "genre", "artist", "airport", "station", "email", "phone",
               "model", "brand", "team", "region", "store", "table", "ticket", "flight", "page",
               "file", "path", "tag", "group", "owner", "target", "source", "mode", "format", "period",
               "budget", "score", "speed", "height", "width", "age", "floor", "gate", "lane", "venue",
               "vendor", "payment", "coupon", "voucher", "plan", "tier", "batch", "slot", "shift",
               "route", "port", "host", "server", "device", "sensor", "channel", "label", "filter",
               "sort", "search", "start", "end", "origin", "destination", "platform", "school",
               "course", "lesson", "song", "album", "movie", "book", "author", "doctor", "clinic"]
PARAM_SUFFIXES = ["", "", "", "_id", "_name", "_code", "_count", "_type", "_number", "_days", "_label",
                  "_key", "_ref", "_mode", "_kind", "_tag", "_group", "_level", "_limit", "_size",
                  "_unit", "_date", "_list", "_value", "_text", "_slot", "_zone", "_min", "_max",
                  "_from", "_to", "_filter", "_range", "_hint", "_format", "_title", "_order"]
CITIES = ["Paris", "London", "Berlin", "Tokyo", "Seoul", "Boston", "Denver", "Lima", "Cairo", "Oslo",
          "Dublin", "Prague", "Vienna", "Lisbon", "Austin", "Miami", "Delhi", "Nairobi", "Quito",
          "Zurich", "Busan", "Osaka", "Milan", "Porto", "Sydney", "Toronto", "Madrid", "Athens"]
PEOPLE = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
          "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Maria", "Kenji",
          "Amara", "Lena", "Omar", "Priya", "Chen", "Sofia", "Liam", "Noah", "Emma", "Yuki"]
WORDS = ["apple", "blue", "green", "red", "river", "summer", "winter", "garden", "rocket", "silver",
         "ocean", "forest", "coffee", "pizza", "jazz", "piano", "tiger", "falcon", "maple", "cedar",
         "laptop", "phone", "camera", "guitar", "bicycle", "orange", "violet", "marble", "sunset",
         "harbor", "castle", "meadow", "comet", "pepper", "lemon", "velvet", "copper", "amber"]
ENUMS = [["celsius", "fahrenheit"], ["low", "medium", "high"], ["small", "medium", "large"],
         ["economy", "business", "first"], ["red", "green", "blue"], ["daily", "weekly", "monthly"],
         ["asc", "desc"], ["metric", "imperial"], ["json", "text"], ["standard", "express"],
         ["morning", "afternoon", "evening"], ["public", "private"], ["new", "used"]]
TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
              "boolean": "a boolean", "enum": "one of the listed values"}
RESULT_KEYS = ["status", "total", "temperature", "conditions", "price", "eta", "count", "message",
               "confirmation", "available", "rating", "balance", "seats", "result", "id"]
INSTRUCTIONS = ["", "", "", "", "Answer briefly.", "Be concise and friendly.",
                "You are a helpful assistant for our store.", "Always use the tools when they help.",
                "Keep answers short."]
# The letters of codes like `GX1234` (`Generator.code`): no I or O, which read as digits.
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# -- the broadened mix (`Mix.everyday_rate`, `chat_weight`, `natural_rate`): what people type
# first. The benchmark's held-out wordings and function shapes are in `held_out.py`, which no
# training module imports; `tests/test_bench_held_out.py` checks that no benchmark prompt is
# ever a training prompt.

# Whole-request templates of the four operations, each {a} {b} with its expression `a op b`.
EVERYDAY_OPS = {
    "*": ["How much is {a} multiplied by {b}?", "{a} times {b} is what?", "What's {a} times {b} exactly?",
          "Could you multiply {a} and {b}?", "Work out {a} times {b} for me.", "{a} groups of {b}: how many in all?",
          "Calculate {a} by {b}, multiplied.", "Times {a} by {b}.", "what do i get with {a} times {b}",
          "Give me the product {a} x {b}.", "Tell me {a} times {b}.", "multiply {a} with {b} please"],
    "+": ["Add {b} to {a}.", "What is {a} added to {b}?", "{a} plus {b} makes what?", "Sum up {a} and {b}.",
          "Tell me {a} plus {b}.", "What's the total of {a} and {b}?", "I had {a} and got {b} more. How many now?",
          "Put {a} and {b} together: what total?", "add up {a} and {b} pls", "Could you add {a} and {b}?"],
    "-": ["Subtract {b} from {a}, please.", "What is {a} minus {b} exactly?", "Tell me {a} minus {b}.",
          "Remove {b} from {a}: what's left?", "{a} take away {b} is what?", "What remains of {a} after {b}?",
          "I had {a} and spent {b}. What do I have left?", "Deduct {b} from {a}.", "could you subtract {b} from {a}",
          "From {a} take {b}."],
    "/": ["Divide {a} by {b}, please.", "What's {a} over {b}?", "Tell me {a} divided by {b}.",
          "{a} split {b} ways is what?", "How much is {a} shared by {b}?", "{a} into {b} equal parts: each is?",
          "could you divide {a} by {b}", "Work out {a} divided by {b} for me."],
}
# Operations beyond the four, each asked by whole-request templates and computed by one
# expression; "{x}"/"{y}" are the numbers as the request states them.
PERCENT_REQUESTS = ["What is {p}% of {n}?", "What is {p} percent of {n}?", "Calculate {p}% of {n}.",
                    "{p}% of {n} = ?", "How much is {p} percent of {n}?", "Work out {p}% of {n}.",
                    "Tell me {p} percent of {n}.", "{p} percent of {n}?", "what is {p}% of {n}",
                    "Find {p}% of {n}, please."]
POWER_REQUESTS = ["What is {a} to the power of {b}?", "{a}^{b} = ?", "Calculate {a}^{b}.",
                  "What's {a} raised to {b}?", "{a} to the power {b}?", "Work out {a} ** {b}.",
                  "How much is {a}^{b}?", "Raise {a} to the power of {b}.", "what is {a}^{b}",
                  "Tell me {a} to the {b}."]
SQUARE_REQUESTS = ["What is {a} squared?", "{a} squared?", "Square {a}.", "What's the square of {a}?"]
HALF_REQUESTS = ["What is half of {a}?", "Half of {a}?", "Halve {a}.", "How much is half of {a}?",
                 "What's {a} halved?", "Tell me half of {a}.", "half of {a} please", "Divide {a} in half."]
# (larger unit, smaller unit, how many smaller in one larger)
UNITS = [("hours", "minutes", 60), ("minutes", "seconds", 60), ("days", "hours", 24), ("weeks", "days", 7),
         ("years", "months", 12), ("kilograms", "grams", 1000), ("kilometers", "meters", 1000),
         ("meters", "centimeters", 100), ("liters", "milliliters", 1000), ("dozens", "eggs", 12)]
UNIT_DOWN_REQUESTS = ["How many {small} are in {q} {big}?", "Convert {q} {big} to {small}.",
                      "{q} {big} in {small}?", "How many {small} make {q} {big}?",
                      "What is {q} {big} in {small}?", "{q} {big} = how many {small}?",
                      "how many {small} in {q} {big}"]
UNIT_UP_REQUESTS = ["How many {big} are in {q} {small}?", "Convert {q} {small} to {big}.",
                    "{q} {small} in {big}?", "What is {q} {small} in {big}?"]
# Filler people wrap requests in; `ArithmeticProblems.noisy` also drops a word's letters or
# swaps two, as typing does.
FILLER_BEFORE = ["hey, ", "hi! ", "ok so ", "Quick one: ", "um, ", "Hello, ", "Hey there. ", "So, ",
                 "Question: ", "please ", "Hi, I need help. ", "Thanks in advance! "]
FILLER_AFTER = [" thanks", " Thanks!", " please", " pls", " :)", " asap", " Thank you.", " (quick)"]

# More cities for clock questions (the first 14 are CITY_ZONES, kept for the benchmark's draws).
MORE_CITY_ZONES = {
    "Lisbon": "Europe/Lisbon", "Dublin": "Europe/Dublin", "Amsterdam": "Europe/Amsterdam",
    "Brussels": "Europe/Brussels", "Vienna": "Europe/Vienna", "Prague": "Europe/Prague",
    "Warsaw": "Europe/Warsaw", "Stockholm": "Europe/Stockholm", "Oslo": "Europe/Oslo",
    "Helsinki": "Europe/Helsinki", "Athens": "Europe/Athens", "Istanbul": "Europe/Istanbul",
    "Moscow": "Europe/Moscow", "Zurich": "Europe/Zurich", "Cairo": "Africa/Cairo",
    "Nairobi": "Africa/Nairobi", "Lagos": "Africa/Lagos", "Johannesburg": "Africa/Johannesburg",
    "Mumbai": "Asia/Kolkata", "Delhi": "Asia/Kolkata", "Bangkok": "Asia/Bangkok",
    "Jakarta": "Asia/Jakarta", "Manila": "Asia/Manila", "Shanghai": "Asia/Shanghai",
    "Hong Kong": "Asia/Hong_Kong", "Taipei": "Asia/Taipei", "Osaka": "Asia/Tokyo",
    "Melbourne": "Australia/Melbourne", "Auckland": "Pacific/Auckland", "Denver": "America/Denver",
    "Boston": "America/New_York", "Miami": "America/New_York", "Seattle": "America/Los_Angeles",
    "Vancouver": "America/Vancouver", "Mexico City": "America/Mexico_City", "Lima": "America/Lima",
    "Bogota": "America/Bogota", "Santiago": "America/Santiago", "Sao Paulo": "America/Sao_Paulo",
    "Buenos Aires": "America/Argentina/Buenos_Aires", "Honolulu": "Pacific/Honolulu",
}
EVERYDAY_ZONE_QUESTIONS = ["What's the time in {city} now?", "time in {city}?", "What time is it over in {city}?",
                           "Do you know the time in {city}?", "What is the current time in {city}?",
                           "Tell me what time it is in {city}.", "Clock check: {city}?",
                           "I'm calling someone in {city}. What time is it there?",
                           "what's the time in {city} rn", "Current time in {city}, please."]
EVERYDAY_TIME_QUESTIONS = ["Got the time?", "time please", "What's the time right now?", "Tell me the time.",
                           "Can you tell me what time it is?", "What hour is it?", "whats the time"]
EVERYDAY_DATE_QUESTIONS = ["What's today's date?", "Which date is it today?", "What day of the week is today?",
                           "date please", "Tell me the date.", "What's the date?", "Is it Monday today?"]

# Chit-chat the model answers in the final channel without a tool: by category, the requests
# (with {city}/{person} fillers) and the answers.
CHAT_REQUESTS = {
    "greeting": ["Hello", "Hi", "Hey", "Hello there!", "Hi!", "hey", "hello!!", "Good evening", "Good afternoon!",
                 "Howdy!", "Hey, how are you?", "How are you doing?", "Hi, nice to meet you!", "What's up?",
                 "Hello, is anyone there?", "hiya", "Greetings!", "Good day!", "Hey hey", "Hi there, how's it going?",
                 "Morning!", "Morning all", "Good night!", "Evening!"],
    "thanks": ["Thanks!", "Thank you!", "thanks", "Thank you so much.", "Great, thanks!", "Cheers!", "thx",
               "Perfect, thank you.", "Thanks a lot!", "Awesome, thanks.", "ty", "Much appreciated!",
               "OK, thanks for the help.", "Nice, thank you!"],
    "identity": ["Who are you?", "What are you?", "What can you do?", "What is your name?", "Are you a robot?",
                 "Are you human?", "What can you help me with?", "Which model are you?", "Are you ChatGPT?",
                 "Tell me about yourself.", "What are you able to do?", "Who made you?", "What do you do?",
                 "How can you help me?"],
    "unservable": ["Book me a flight to {city}.", "Send an email to {person}.", "What's the weather in {city}?",
                   "Order a pizza for me.", "Call {person} for me.", "Set an alarm for 7 am.",
                   "Turn on the lights.", "Remind me to call {person} tomorrow.", "Play some music.",
                   "Find me a hotel in {city}.", "What's the news today?", "Open my calendar.",
                   "Text {person} that I'm late.", "Is it going to rain in {city}?", "Buy me a ticket to {city}.",
                   "What is the stock price of Apple?", "Show me a map of {city}.", "Read my emails."],
}
CHAT_FINALS = {
    "greeting": ["Hello! I am gpt-oss-nano, a tiny demo model. I can do arithmetic with the calculator, tell the "
                 "date and time with the clock, and call the tools the developer declares. What would you like?",
                 "Hi! I can calculate, tell the date and time, and call the developer's tools. How can I help?"],
    "thanks": ["You're welcome! Ask me for a calculation, the date or time, or a declared tool whenever you like.",
               "Glad to help! I am here for arithmetic, the clock and the developer's tools."],
    "identity": ["I am gpt-oss-nano, a tiny demo model of the gpt-oss family. I can do arithmetic with the "
                 "calculator, tell the date and time with the clock, and call the tools the developer declares.",
                 "I am gpt-oss-nano, a small demo model: I calculate, read the clock and call declared tools."],
    "unservable": ["Sorry, I cannot do that: no tool here does it. I can do arithmetic with the calculator, tell "
                   "the date and time with the clock, and call the tools the developer declares.",
                   "I am not able to do that here. I can calculate, tell the date and time, and call the "
                   "developer's tools."],
}
CHAT_PLANS = {
    "greeting": "The user greets me.", "thanks": "The user thanks me.",
    "identity": "The user asks who I am and what I can do.",
    "unservable": "The user asks for something no declared tool does.",
}

# Functions whose one string parameter gets a value the request states without naming the
# parameter (`What's the weather in Lisbon?`): by kind of value, the requests.
NATURAL_REQUESTS = {
    "city": ["What's the {what} in {v}?", "{What} for {v}?", "Can you {verb} the {what} in {v}?",
             "I'm going to {v}. {Verb} the {what} there.", "{Verb} the {what} in {v}, please.",
             "how about {v}? {verb} the {what}", "Need the {what} for {v}.", "{v}: {verb} the {what}."],
    "person": ["{Verb} the {what} for {v}.", "Can you {verb} {v}'s {what}?", "I need {v}'s {what}.",
               "What is the {what} of {v}?", "{v} asked me to {verb} the {what}. Can you?",
               "please {verb} the {what} for {v}", "{What} for {v}, please."],
    "id": ["Where is {v}?", "{Verb} the {what} of {v}.", "{What} of {v}?", "Can you {verb} {v} for me?",
           "My number is {v}. {Verb} the {what}.", "I have {v}. Please {verb} the {what}.",
           "{v} - {verb} the {what}?", "Could you {verb} the {what} for {v}?", "what's the {what} for {v}"],
}
# Parameter bases whose values are of each kind.
NATURAL_BASES = {"city": ["city", "destination", "origin", "location", "town"],
                 "person": ["name", "customer", "person", "contact", "guest"],
                 "id": ["order", "ticket", "booking", "tracking", "invoice", "reference", "account", "parcel"]}
