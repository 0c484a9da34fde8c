from calbridge_app.cli import main

main()
