"""The parser's old module name: `inference.parser` holds it now.

Kept only because tests/test_nano_data.py (another change's file) still imports
`inference.stream`; once it imports `inference.parser`, delete this module.
"""

from .parser import HarmonyStream  # noqa: F401
