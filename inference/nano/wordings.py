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
