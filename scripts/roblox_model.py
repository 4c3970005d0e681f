"""Writes clients/roblox/OrderLog.rbxmx, the model file Studio users insert (right-click
ServerScriptService > Insert from File), from clients/roblox/OrderLog.lua.

The model is generated, never edited by hand: run ``python scripts/roblox_model.py`` after
changing the module (tests/test_roblox_packaging.py fails while the two differ).
"""

from __future__ import annotations

import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "roblox"
SOURCE = CLIENT / "OrderLog.lua"
MODEL = CLIENT / "OrderLog.rbxmx"


def cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA: split it across two sections.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def model(source: str) -> str:
    """Roblox's XML model format: one ModuleScript named OrderLog holding the source."""
    return (
        '<roblox xmlns:xmime="http://www.w3.org/2005/05/xmlmime" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="http://www.roblox.com/roblox.xsd" version="4">\n'
        '\t<Item class="ModuleScript" referent="RBX0">\n'
        "\t\t<Properties>\n"
        '\t\t\t<string name="Name">OrderLog</string>\n'
        f'\t\t\t<ProtectedString name="Source">{cdata(source)}</ProtectedString>\n'
        "\t\t</Properties>\n"
        "\t</Item>\n"
        "</roblox>\n"
    )


def main() -> int:
    MODEL.write_text(model(SOURCE.read_text()), newline="\n")
    print(f"wrote {MODEL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
