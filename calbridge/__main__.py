from calbridge.cli import main

main()
