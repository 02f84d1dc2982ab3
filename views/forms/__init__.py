"""Forms, one module per area. They check shape only; business rules live in `advisor/`."""
