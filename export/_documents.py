# placeholder being replaced by a helper
from pathlib import Path
def write_documents(folder, result):
    return []
