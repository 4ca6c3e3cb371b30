"""Routing: calendars (working hours, holidays, business-time arithmetic), regions, pools, support
plans and their clocks (SLA terms), and the routes that choose a pool. May import app.rulelang only."""
