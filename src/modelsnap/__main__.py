from modelsnap.cli import main

raise SystemExit(main())
