from workloads.producer.cli import main

raise SystemExit(main())
