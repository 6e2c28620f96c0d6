from dlrs_provision.cli import main

raise SystemExit(main())
