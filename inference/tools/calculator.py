"""The `calculator` tool: arithmetic on an expression, evaluated by walking its syntax tree.

Nothing is passed to `eval`: only numbers, + - * / // % **, unary signs, parentheses and a
few named functions and constants are accepted. Integers stay exact. Whatever could run long
is refused before it runs, in microseconds: exponents, integer sizes, round()'s digits and the
nesting depth are bounded, so that `9**9**9` or `round(5, -10**99)` (which would compute
10**(10**99)) cannot exhaust the worker. Every problem comes back to the model as a line of
text starting with `error:`, never as an exception. The call still runs in a killable child
process with a time limit (inference/tools/bounded.py), should anything slip through.
"""

from __future__ import annotations

import ast
import math
import operator

from ..harmony import FunctionTool

MAX_EXPRESSION_CHARS = 500
MAX_INT_DIGITS = 100  # larger integer results would be unreadable anyway
MAX_EXPONENT = 10_000
MAX_ROUND_DIGITS = 2 * MAX_INT_DIGITS  # round(x, n) and round(x, -n) for 0 <= n <= 200
MAX_DEPTH = 100  # levels of nested operations and calls (a sum of 100 numbers is 100)

FUNCTIONS = {"sqrt": 1, "abs": 1, "round": (1, 2), "min": None, "max": None}
CONSTANTS = {"pi": math.pi, "e": math.e}
# Operators people and models write that Python spells differently.
SPELLINGS = {"×": "*", "·": "*", "÷": "/", "−": "-", "^": "**"}


class CalculationError(ValueError):
    """Why an expression has no answer; its text goes back to the model."""


def check_size(value, what="result"):
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculationError(f"{what} too large")
    if isinstance(value, int) and abs(value) >= 10**MAX_INT_DIGITS:
        raise CalculationError(f"{what} too large (more than {MAX_INT_DIGITS} digits)")
    return value


def power(base, exponent):
    if abs(exponent) > MAX_EXPONENT:
        raise CalculationError(f"exponent too large (at most {MAX_EXPONENT})")
    if base == 0 and exponent < 0:
        raise ZeroDivisionError
    magnitude = abs(base)
    if magnitude > 1 and exponent > 0 and exponent * math.log10(magnitude) > MAX_INT_DIGITS + 1:
        raise CalculationError(f"result too large (more than {MAX_INT_DIGITS} digits)")
    result = base**exponent
    if isinstance(result, complex):
        raise CalculationError("a negative number to a fractional power has no real value")
    return result


def divide(a, b):
    """Exact when integers divide evenly (10**30 / 10 stays an integer), float otherwise."""
    if isinstance(a, int) and isinstance(b, int) and b != 0 and a % b == 0:
        return a // b
    return a / b


BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: divide,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: power,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def call(name, args):
    arity = FUNCTIONS[name]
    allowed = (arity,) if isinstance(arity, int) else arity
    if allowed is None and not args:
        raise CalculationError(f"{name}() needs at least one argument")
    if allowed is not None and len(args) not in allowed:
        raise CalculationError(f"{name}() takes {' or '.join(map(str, allowed))} argument(s)")
    if name == "sqrt":
        if args[0] < 0:
            raise CalculationError("square root of a negative number")
        root = math.isqrt(args[0]) if isinstance(args[0], int) else None
        return root if root is not None and root * root == args[0] else math.sqrt(args[0])
    if name == "round" and len(args) == 2:
        if not isinstance(args[1], int):
            raise CalculationError("round() needs a whole number of digits")
        if abs(args[1]) > MAX_ROUND_DIGITS:  # round(5, -10**99) would compute 10**(10**99)
            raise CalculationError(f"round() digits must be between -{MAX_ROUND_DIGITS} and "
                                   f"{MAX_ROUND_DIGITS}")
    return {"abs": abs, "round": round, "min": min, "max": max}[name](*args)


def depth(tree) -> int:
    """How deeply the syntax tree nests, counted without recursion."""
    deepest, level = 0, [(tree, 0)]
    while level:
        node, d = level.pop()
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            break
        level += [(child, d + 1) for child in ast.iter_child_nodes(node)
                  if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context))]
    return deepest


def evaluate_node(node):
    if isinstance(node, ast.Expression):
        return evaluate_node(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise CalculationError(f"not a number: {node.value!r}")
        return check_size(node.value, "number")
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left, right = evaluate_node(node.left), evaluate_node(node.right)
        return check_size(BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        return UNARY[type(node.op)](evaluate_node(node.operand))
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise CalculationError(f"unknown name {node.id!r}")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        if node.keywords:
            raise CalculationError(f"{node.func.id}() takes no keyword arguments")
        return check_size(call(node.func.id, [evaluate_node(a) for a in node.args]))
    if isinstance(node, ast.Call):
        known = ", ".join(FUNCTIONS)
        raise CalculationError(f"unknown function (known: {known})")
    raise CalculationError(f"unsupported syntax: {type(node).__name__}")


def format_number(value) -> str:
    """Integers as digits; floats with up to 15 significant digits, without a trailing .0."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return f"{value:.15g}"
    return str(value)


def calculate(expression: str) -> str:
    """The value of `expression` as text, or `error: <why>`."""
    if not isinstance(expression, str) or not expression.strip():
        return "error: the expression is empty"
    if len(expression) > MAX_EXPRESSION_CHARS:
        return f"error: expression too long (at most {MAX_EXPRESSION_CHARS} characters)"
    for spelled, python in SPELLINGS.items():
        expression = expression.replace(spelled, python)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        if "too many nested parentheses" in str(exc):
            return "error: expression nested too deeply (too many parentheses)"
        return f"error: invalid expression {expression.strip()!r}"
    except (RecursionError, MemoryError):  # the parser's own stack
        return f"error: expression nested too deeply (at most {MAX_DEPTH} levels)"
    if depth(tree) > MAX_DEPTH:
        return f"error: expression nested too deeply (at most {MAX_DEPTH} levels)"
    try:
        return format_number(evaluate_node(tree))
    except ZeroDivisionError:
        return "error: division by zero"
    except OverflowError:
        return "error: result too large"
    except CalculationError as exc:
        return f"error: {exc}"
    except RecursionError:
        return f"error: expression nested too deeply (at most {MAX_DEPTH} levels)"


class Calculator:
    name = "calculator"

    def declaration(self) -> FunctionTool:
        return FunctionTool(
            name=self.name,
            description=(
                "Evaluates an arithmetic expression exactly and returns the number. Supports "
                "+ - * / // % ** (or ^), parentheses, decimals, pi, e and the functions "
                "sqrt, abs, round, min, max."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "expression": {
                        "type": "string",
                        "description": "The arithmetic expression, e.g. 12 * (34 + 5)",
                    }
                },
                "required": ["expression"],
            },
        )

    def run(self, arguments: dict) -> str:
        if "expression" not in arguments:
            return "error: missing argument 'expression'"
        expression = arguments["expression"]
        if isinstance(expression, (int, float)) and not isinstance(expression, bool):
            expression = str(expression)
        if not isinstance(expression, str):
            return "error: 'expression' must be a string"
        return calculate(expression)
