"""The calculator evaluates arithmetic exactly and safely, and reports problems as text."""

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
    ("1e999", "result too large"),
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
