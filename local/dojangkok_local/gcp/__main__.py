from dojangkok_local.gcp.server import main

raise SystemExit(main())
