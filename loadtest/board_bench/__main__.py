from loadtest.extras import require_test_extras


def _main() -> int:
    require_test_extras("python -m loadtest.board_bench", ("psutil",))
    from loadtest.board_bench.cli import main

    return main()


raise SystemExit(_main())
