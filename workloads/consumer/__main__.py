from workloads.consumer.cli import main

raise SystemExit(main())
