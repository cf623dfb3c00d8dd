"""Mail transfer agents that sign with mailzone's DKIM keys: configuration rendering and checks.

`exim` renders the Debian Exim4 pieces (a selector lookup file and a `DKIM_*` macro block);
`exim_check` finds the ways such a setup silently sends unsigned mail."""
