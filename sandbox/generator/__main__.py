"""``python -m sandbox.generator``: write synthetic Freddie Mac zips."""

from sandbox.generator.cli import main

raise SystemExit(main())
