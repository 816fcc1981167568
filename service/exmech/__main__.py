from exmech.cli import main

main()
