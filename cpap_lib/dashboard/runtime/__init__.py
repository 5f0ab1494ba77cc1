"""How the pages run: the Voilà server and its template, self-refreshing pollers, the connection to the API."""
