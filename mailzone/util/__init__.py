"""Small building blocks with no knowledge of mail or DNS: atomic files, locks, endpoints, TXT quoting."""
