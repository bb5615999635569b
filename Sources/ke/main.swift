import KEShell

KEShell.main()
