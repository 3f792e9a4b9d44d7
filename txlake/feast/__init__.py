"""Feast for txlake: the feature repo in feature_store/ and the operations on it.

Feast loads three classes from this package by name (feature_store.yaml):
`offline.LakeOfflineStore` reads lake tables through their Delta log,
`online.LakeOnlineStore` serves from SQLite or the stack's PostgreSQL (one
setting), and `provider.LakeProvider` materializes with one Arrow pass per
batch instead of one protobuf conversion per row. `ops` is what the CLI, the
demo and the weekly DAG call.
"""
