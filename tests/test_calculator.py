"""The calculator evaluates arithmetic exactly and safely, and reports problems as text."""

import time

import pytest

from inference.tools import registry


def calc(expression):
    return registry.get("calculator").run({"expression": expression})


@pytest.mark.parametrize("expression, expected", [
    ("12 * 34", "408"),
    ("12*(34+5)", "468"),
    ("7 / 2", "3.5"),
    ("8 / 2", "4"),  # integers without .0
    ("10**30 / 10", "1" + "0" * 29),  # exact, not a float
    ("17 // 5", "3"),
    ("17 % 5", "2"),
    ("2 ** 10", "1024"),
    ("2 ^ 10", "1024"),
    ("-3 ** 2", "-9"),
    ("-(4 - 10)", "6"),
    ("0.1 + 0.2", "0.3"),
    ("1.5 * 4", "6"),
    ("12 × 3 ÷ 4", "9"),
    ("sqrt(144)", "12"),
    ("abs(-2.5)", "2.5"),
    ("round(3.14159, 2)", "3.14"),
    ("min(4, 2, 9) + max(1, 7)", "9"),
])
def test_arithmetic_results_are_plain_numbers(expression, expected):
    assert calc(expression) == expected


@pytest.mark.parametrize("expression, reason", [
    ("1 / 0", "division by zero"),
    ("5 % 0", "division by zero"),
    ("9 ** 9 ** 9", "exponent too large"),
    ("10 ** 200", "result too large"),
    ("2.0 ** 5000", "result too large"),
    ("1e999", "number too large"),
    ("sqrt(-1)", "square root of a negative number"),
    ("12 *", "invalid expression"),
    ("", "empty"),
    ("x + 1", "unknown name"),
])
def test_problems_come_back_as_error_text(expression, reason):
    result = calc(expression)
    assert result.startswith("error: ") and reason in result


@pytest.mark.parametrize("expression", [
    "__import__('os').system('echo hi')",
    "(1).__class__",
    "[1, 2]",
    "'a' * 3",
    "lambda: 1",
    "open('/etc/passwd')",
])
def test_anything_but_arithmetic_is_refused(expression):
    assert calc(expression).startswith("error: ")


def test_expression_length_is_bounded():
    assert "too long" in calc("1+" * 400 + "1")


def test_missing_or_wrong_argument_is_error_text():
    tool = registry.get("calculator")
    assert tool.run({}) == "error: missing argument 'expression'"
    assert tool.run({"expression": ["1"]}).startswith("error: ")
    assert tool.run({"expression": 42}) == "42"


def test_declaration_is_a_function_tool_with_a_schema():
    decl = registry.get("calculator").declaration()
    assert decl.name == "calculator"
    assert decl.parameters["required"] == ["expression"]
    assert decl.parameters["properties"]["expression"]["type"] == "string"


# What would run for hours or exhaust memory, refused before it runs. Each goes through the
# bounded runner first: were a refusal missing, the runner's child process would hit its time
# limit (and this test fail) instead of the test hanging.
BLOWUPS = [
    ("round(5, -10**99)", "round() digits must be between -200 and 200"),  # 10**(10**99)
    ("round(10**99, -10**99)", "round() digits must be between -200 and 200"),
    ("round(7, -(10**18))", "round() digits must be between -200 and 200"),
    ("round(2.5, 10**18)", "round() digits must be between -200 and 200"),
    ("round(5, -max(10**99, 1))", "round() digits must be between -200 and 200"),
    ("9 ** 9 ** 9", "exponent too large (at most 10000)"),
    ("(2 ** 0.5) ** 100000", "exponent too large (at most 10000)"),
    ("2 ** 10000", "result too large (more than 100 digits)"),
    ("((9 ** 9) ** 9) ** 9", "result too large (more than 100 digits)"),
    ("*".join(["99999999999"] * 20), "result too large (more than 100 digits)"),  # a factorial's way
    ("(10**99) * (10**99)", "result too large (more than 100 digits)"),
    ("1" * 400, "number too large (more than 100 digits)"),
    ("1e999", "number too large"),
    ("-" * 300 + "1", "expression nested too deeply (at most 100 levels)"),
    ("+".join(["1"] * 101), "expression nested too deeply (at most 100 levels)"),
    ("(" * 201 + "1" + ")" * 201, "expression nested too deeply (too many parentheses)"),
]


@pytest.mark.parametrize("expression, reason", BLOWUPS)
def test_blowups_are_refused_in_microseconds_with_the_reason(expression, reason):
    from inference.tools.calculator import calculate
    from inference.turn import run_builtin

    assert run_builtin("calculator", {"expression": expression}) == f"error: {reason}"
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        result = calculate(expression)
        best = min(best, time.perf_counter() - started)
    assert result == f"error: {reason}"
    assert best < 0.002, f"{best * 1e6:.0f} µs"


def test_the_limits_leave_ordinary_arithmetic_alone():
    assert calc("round(123456, -3)") == "123000"
    assert calc("round(2.675, 2)") == "2.67"
    assert calc("round(1, 200)") == "1"
    assert calc("+".join(["1"] * 100)) == "100"  # a sum of 100 numbers nests 100 deep
    assert calc("(" * 150 + "2" + ")" * 150) == "2"
    assert calc("9 ** 99") == str(9**99)
