"""GetFolder: the root and the distinguished folders of a mailbox."""

from __future__ import annotations

from lxml import etree

from sandbox.ews.operations import Context, resolve_folder
from sandbox.ews.soap import error_message, m, response, success_message, t

__all__ = ["get_folder"]

_FOLDER_TAG = {"calendar": "CalendarFolder", "root": "Folder", "deleteditems": "Folder"}
_DISPLAY = {"calendar": "Calendar", "root": "Top of Information Store", "deleteditems": "Deleted Items"}
_CLASS = {"calendar": "IPF.Appointment", "root": "", "deleteditems": "IPF.Note"}


async def get_folder(ctx: Context, op: etree._Element) -> etree._Element:
    messages = []
    for ref in op.find(m("FolderIds")) if op.find(m("FolderIds")) is not None else []:
        folder = resolve_folder(ctx, ref)
        if folder is None:
            messages.append(
                error_message(
                    "GetFolder",
                    "ErrorFolderNotFound",
                    "The specified folder could not be found in the store.",
                )
            )
            continue
        container = etree.Element(m("Folders"))
        elem = etree.SubElement(container, t(_FOLDER_TAG.get(folder.distinguished, "Folder")))
        etree.SubElement(elem, t("FolderId"), Id=folder.id, ChangeKey=folder.changekey)
        if folder.distinguished != "root":
            root = ctx.world.mailboxes[folder.mailbox].folders["root"]
            etree.SubElement(elem, t("ParentFolderId"), Id=root.id, ChangeKey=root.changekey)
        if _CLASS.get(folder.distinguished):
            etree.SubElement(elem, t("FolderClass")).text = _CLASS[folder.distinguished]
        etree.SubElement(elem, t("DisplayName")).text = _DISPLAY.get(
            folder.distinguished, folder.distinguished
        )
        etree.SubElement(elem, t("TotalCount")).text = str(len(folder.items))
        etree.SubElement(elem, t("ChildFolderCount")).text = "0"
        messages.append(success_message("GetFolder", [container]))
    return response("GetFolder", messages)
