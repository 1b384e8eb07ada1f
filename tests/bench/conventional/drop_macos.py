"""Drop the macOS-only requirements (pyobjc's, marked `platform_release >= "N"`) from a
Poetry export: pip cannot evaluate that marker on a kernel release such as
'6.18.44-fc-v857' (not a PEP 440 version) and stops. Usage: drop_macos.py IN OUT"""

import sys
from pathlib import Path

text = Path(sys.argv[1]).read_text().replace("\\\n", " ")
kept = [line for line in text.splitlines() if "platform_release" not in line]
Path(sys.argv[2]).write_text("\n".join(kept) + "\n")
