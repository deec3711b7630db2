from modelsnap.cli import program

raise SystemExit(program())
