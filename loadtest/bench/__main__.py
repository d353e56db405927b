from loadtest.extras import require_test_extras


def _main() -> int:
    require_test_extras("gameserver bench", ("psutil", "httpx", "websockets"))
    from loadtest.bench.cli import main

    return main()


raise SystemExit(_main())
