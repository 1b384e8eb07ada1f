"""Print pip constraints (name==version) from a poetry.lock: python lock_constraints.py LOCK"""

import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    for pkg in tomllib.load(f)["package"]:
        print(f"{pkg['name']}=={pkg['version']}")
