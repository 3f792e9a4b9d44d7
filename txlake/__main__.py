from txlake.cli import main

main()
