"""The failover monitor daemon (lz-failover-monitor)."""
