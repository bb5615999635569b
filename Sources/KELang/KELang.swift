import KECore
