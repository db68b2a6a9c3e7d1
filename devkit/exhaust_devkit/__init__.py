"""The dev kit of the data exhaust service: what runs on a machine, never in AWS. Local mode (`exhaust local`), the
in-process workflow runner, the synthetic lake and the sample data, and the `exhaust` command's administration
(tokens, the lake, the daily producer, deploy-check, the smoke test). Its packages mirror the runtime's
(`exhaust_devkit.lake` beside `exhaust.lake`)."""
