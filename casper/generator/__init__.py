"""The order-flow generator: history, live continuation and replay of ghost-kitchen events."""
