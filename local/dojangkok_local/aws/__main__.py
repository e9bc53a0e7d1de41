from dojangkok_local.aws.server import main

raise SystemExit(main())
