"""Feast provider for txlake: Feast's local provider with a faster materialization.

Stock materialization turns each entity row into protobuf messages in Python
and the online store then writes them one value at a time (~9k rows/s here).
This provider pulls the same rows through the offline store (Feast's
`pull_latest_from_table_or_query`: the newest row per entity in the window)
and hands the Arrow table to the online store's bulk `write_arrow` when the
store has one. Everything else is Feast's PassthroughProvider, so
`feast materialize`, `feast apply` and `get_online_features` work unchanged.
"""

from __future__ import annotations

from feast.feature_view import FeatureView
from feast.infra.passthrough_provider import PassthroughProvider


class LakeProvider(PassthroughProvider):
    def materialize_single_feature_view(self, config, feature_view, start_date, end_date, registry,
                                        project, tqdm_builder, disable_event_timestamp: bool = False):
        online = self.online_store
        if (not isinstance(feature_view, FeatureView) or not hasattr(online, "write_arrow")
                or disable_event_timestamp or len(feature_view.entity_columns) != 1
                or feature_view.batch_source is None or feature_view.batch_source.field_mapping):
            return super().materialize_single_feature_view(
                config, feature_view, start_date, end_date, registry, project, tqdm_builder,
                disable_event_timestamp)
        source = feature_view.batch_source
        join_key = feature_view.entity_columns[0].name
        created = source.created_timestamp_column or None
        table = self.offline_store.pull_latest_from_table_or_query(
            config=config, data_source=source, join_key_columns=[join_key],
            feature_name_columns=[f.name for f in feature_view.features],
            timestamp_field=source.timestamp_field, created_timestamp_column=created,
            start_date=start_date, end_date=end_date).to_arrow()
        bar = tqdm_builder(table.num_rows)
        online.write_arrow(config, feature_view, table, join_key, source.timestamp_field, created,
                           progress=bar.update)
        bar.close()
