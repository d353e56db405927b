from loadtest.board_bench.cli import main

raise SystemExit(main())
