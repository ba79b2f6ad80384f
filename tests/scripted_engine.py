"""A unit-test double of inference.engine.Engine: each `generate` call yields the token ids
of the next prepared completion (raw harmony text, as a model would emit it), honouring
max_new_tokens, stop ids and should_cancel the way the real engine does."""

from inference import harmony


class ScriptedEngine:
    kind = "scripted"
    model_name = "scripted"
    device = "cpu"
    active_params = 1000

    def __init__(self, *completions):
        self.completions = [harmony.encode(c) for c in completions]
        self.prompts = []  # the prompt ids of each generate call
        self.last_prefill_ms = None

    def generate(self, prompt_ids, *, max_new_tokens, temperature=0.0, top_p=1.0, seed=None,
                 stop_ids=harmony.STOP_TOKENS, should_cancel=None):
        self.prompts.append(list(prompt_ids))
        script = self.completions.pop(0)
        cancelled = should_cancel or (lambda: False)

        def tokens():
            for n, token in enumerate(script[:max_new_tokens]):
                if n > 0 and cancelled():
                    return
                self.last_prefill_ms = self.last_prefill_ms or 1.0
                yield token
                if token in stop_ids:
                    return

        return tokens()


def calculator_call(expression):
    return (f'<|channel|>analysis<|message|>Use the calculator.<|end|>'
            f'<|start|>assistant<|channel|>commentary to=functions.calculator <|constrain|>json'
            f'<|message|>{{"expression": "{expression}"}}<|call|>')


def final_answer(text):
    return f"<|channel|>final<|message|>{text}<|return|>"
