"""ftc-office: automates the close of a FastTrack enablement engagement.

Data flows one way: workbook row (with its cell reference) → typed record → playbook
decision → rendered message → ledger (intent) → backend → ledger (result) → write-back.
"""

__version__ = "0.1.0"
