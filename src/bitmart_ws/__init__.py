"""Real-time BitMart WebSocket client, simulator and CLI."""
