from casper.cli import main

main()
