from orderlog.cli import main

main()
