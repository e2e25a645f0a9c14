"""Music analysis that generation and evaluation both use: beat tracking and beat metrics."""
