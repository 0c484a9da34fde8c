"""The order types.xsd gives the children of a `t:CalendarItem`.

`CalendarItemType` extends `ItemType`, and both are `xs:sequence`s: ItemId comes first, then
ParentFolderId, then the item fields, the extended properties after HasAttachments, and the
calendar fields after every item field. A response that puts an element out of this order fails
schema validation in clients that validate (exchangelib does not; .NET's EWS Managed API and
generated SOAP proxies do), so the emulator renders in this order whatever order a client wrote
the fields in.
"""

from __future__ import annotations

__all__ = ["CALENDAR_ITEM_ORDER", "schema_position"]

_ITEM = (
    "MimeContent", "ItemId", "ParentFolderId", "ItemClass", "Subject", "Sensitivity", "Body",
    "Attachments", "DateTimeReceived", "Size", "Categories", "Importance", "InReplyTo", "IsSubmitted",
    "IsDraft", "IsFromMe", "IsResend", "IsUnmodified", "InternetMessageHeaders", "DateTimeSent",
    "DateTimeCreated", "ResponseObjects", "ReminderDueBy", "ReminderIsSet", "ReminderNextTime",
    "ReminderMinutesBeforeStart", "DisplayCc", "DisplayTo", "HasAttachments", "ExtendedProperty",
    "Culture", "EffectiveRights", "LastModifiedName", "LastModifiedTime", "IsAssociated",
    "WebClientReadFormQueryString", "WebClientEditFormQueryString", "ConversationId", "UniqueBody",
    "Flag", "StoreEntryId", "InstanceKey", "NormalizedBody", "EntityExtractionResult", "PolicyTag",
    "ArchiveTag", "RetentionDate", "Preview", "RightsManagementLicenseData", "PredictedActionReasons",
    "IsClutter", "BlockStatus", "HasBlockedImages", "TextBody", "IconIndex", "SearchKey", "SortKey",
    "Hashtags", "Mentions", "MentionedMe", "MentionsPreview", "MentionsEx", "AppliedHashtags",
    "AppliedHashtagsPreview", "Likes", "LikesPreview", "PendingSocialActivityTagIds", "AtAllMention",
    "CanDelete", "InferenceClassification",
)  # fmt: skip
_CALENDAR = (
    "UID", "RecurrenceId", "DateTimeStamp", "Start", "End", "OriginalStart", "IsAllDayEvent",
    "LegacyFreeBusyStatus", "Location", "When", "IsMeeting", "IsCancelled", "IsRecurring",
    "MeetingRequestWasSent", "IsResponseRequested", "CalendarItemType", "MyResponseType", "Organizer",
    "RequiredAttendees", "OptionalAttendees", "Resources", "ConflictingMeetingCount",
    "AdjacentMeetingCount", "ConflictingMeetings", "AdjacentMeetings", "Duration", "TimeZone",
    "AppointmentReplyTime", "AppointmentSequenceNumber", "AppointmentState", "Recurrence",
    "FirstOccurrence", "LastOccurrence", "ModifiedOccurrences", "DeletedOccurrences",
    "MeetingTimeZone", "StartTimeZone", "EndTimeZone", "ConferenceType", "AllowNewTimeProposal",
    "IsOnlineMeeting", "MeetingWorkspaceUrl", "NetShowUrl", "EnhancedLocation", "StartWallClock",
    "EndWallClock", "StartTimeZoneId", "EndTimeZoneId", "IntendedFreeBusyStatus",
    "JoinOnlineMeetingUrl", "OnlineMeetingSettings", "IsOrganizer", "CalendarActivityData",
    "DoNotForwardMeeting",
)  # fmt: skip
CALENDAR_ITEM_ORDER: tuple[str, ...] = _ITEM + _CALENDAR
_POSITION = {name: index for index, name in enumerate(CALENDAR_ITEM_ORDER)}


def schema_position(name: str) -> int:
    """Where `name` goes among a CalendarItem's children; unknown names go last."""
    return _POSITION.get(name, len(CALENDAR_ITEM_ORDER))
