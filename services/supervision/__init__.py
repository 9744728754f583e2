"""Supervision (服务监管): the service order of each paid supervised order, node by node, with appeals."""
