"""Figures for people who run the service desk: SLA compliance, first-contact resolution, calls
answered, times to acknowledge and to resolve, each aggregated in SQL (``metrics``), and small
server-rendered SVG charts of them (``charts``). The console's dashboard and the portal's account
page show them."""
