"""One module per rule file (rules/<name>.smk -> stages/<name>.py); each rule's script calls one function."""
