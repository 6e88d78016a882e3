"""`python -m brace.runtime`: start one replica (see brace.runtime.main)."""

from __future__ import annotations

import sys

from brace.runtime.main import main

sys.exit(main())
