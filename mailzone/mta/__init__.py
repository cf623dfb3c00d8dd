"""Mail transfer agents that sign with mailzone's DKIM keys: configuration rendering and checks.

`kinds` is the registry of MTA kinds (`exim`, `opendkim`, `rspamd`), one module each, every one a
`renderer.Renderer` of a `signing.Signing` list; `install` renders the host's kind from the
states, writes the files and reloads the MTA; `exim_check` finds the ways an Exim setup silently
sends unsigned mail."""
