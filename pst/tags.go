package pst

// Property ids of tagged properties (MS-OXPROPS 2.x, "PidTag…").
const (
	tagImportance                 = 0x0017
	tagMessageClass               = 0x001A
	tagSensitivity                = 0x0036
	tagSubject                    = 0x0037
	tagClientSubmitTime           = 0x0039
	tagSentRepresentingName       = 0x0042
	tagSentRepresentingAddrType   = 0x0064
	tagSentRepresentingEmail      = 0x0065
	tagTransportMessageHeaders    = 0x007D
	tagRecipientType              = 0x0C15
	tagSenderName                 = 0x0C1A
	tagSenderAddrType             = 0x0C1E
	tagSenderEmailAddress         = 0x0C1F
	tagMessageDeliveryTime        = 0x0E06
	tagFlagStatus                 = 0x1090 // PidTagFlagStatus (MS-OXOFLAG 2.2.1.1)
	tagFlagCompleteTime           = 0x1091 // PidTagFlagCompleteTime (2.2.1.3)
	tagFollowupIcon               = 0x1095 // PidTagFollowupIcon (2.2.1.2)
	tagMessageFlags               = 0x0E07
	tagAttachSize                 = 0x0E20
	tagRecordKey                  = 0x0FF9
	tagBody                       = 0x1000
	tagRtfCompressed              = 0x1009
	tagHTML                       = 0x1013
	tagInternetMessageID          = 0x1035
	tagInternetReferences         = 0x1039
	tagInReplyToID                = 0x1042
	tagDisplayName                = 0x3001
	tagAddrType                   = 0x3002
	tagEmailAddress               = 0x3003
	tagCreationTime               = 0x3007
	tagLastModificationTime       = 0x3008
	tagIpmSubTreeEntryID          = 0x35E0
	tagIpmSentMailEntryID         = 0x35E4
	tagAttachDataBinary           = 0x3701 // PidTagAttachDataBinary / PidTagAttachDataObject
	tagAttachFilename             = 0x3704
	tagAttachMethod               = 0x3705
	tagAttachLongFilename         = 0x3707
	tagAttachMimeTag              = 0x370E
	tagAttachContentID            = 0x3712
	tagAttachFlags                = 0x3714
	tagGeneration                 = 0x3A05
	tagGivenName                  = 0x3A06
	tagBusinessTelephone          = 0x3A08
	tagHomeTelephone              = 0x3A09
	tagSurname                    = 0x3A11
	tagCompanyName                = 0x3A16
	tagTitle                      = 0x3A17
	tagDepartmentName             = 0x3A18
	tagMobileTelephone            = 0x3A1C
	tagOtherTelephone             = 0x3A1F
	tagPager                      = 0x3A21
	tagBusinessFax                = 0x3A24
	tagHomeFax                    = 0x3A25
	tagAssistantTelephone         = 0x3A2E
	tagAssistant                  = 0x3A30
	tagWeddingAnniversary         = 0x3A41
	tagBirthday                   = 0x3A42
	tagMiddleName                 = 0x3A44
	tagDisplayNamePrefix          = 0x3A45
	tagProfession                 = 0x3A46
	tagSpouseName                 = 0x3A48
	tagManagerName                = 0x3A4E
	tagNickname                   = 0x3A4F
	tagBusinessHomePage           = 0x3A51
	tagHomeAddressCity            = 0x3A59
	tagHomeAddressCountry         = 0x3A5A
	tagHomeAddressPostalCode      = 0x3A5B
	tagHomeAddressState           = 0x3A5C
	tagHomeAddressStreet          = 0x3A5D
	tagHomeAddressPOBox           = 0x3A5E
	tagOtherAddressCity           = 0x3A5F
	tagOtherAddressCountry        = 0x3A60
	tagOtherAddressPostalCode     = 0x3A61
	tagOtherAddressState          = 0x3A62
	tagOtherAddressStreet         = 0x3A63
	tagOtherAddressPOBox          = 0x3A64
	tagSMTPAddress                = 0x39FE
	tagInternetCodepage           = 0x3FDE
	tagMessageCodepage            = 0x3FFD
	tagMessageLocaleID            = 0x3FF1
	tagSenderSMTPAddress          = 0x5D01
	tagSentRepresentingSMTP       = 0x5D02
	tagRecipientFlags             = 0x5FFD
	tagRecipientTrackStatus       = 0x5FFF
	tagLtpRowID                   = 0x67F2
	tagAttachmentHidden           = 0x7FFE
	tagRecipientDisplayNameUnicde = 0x5FF6 // PidTagRecipientDisplayName
)

// Numeric named properties (MS-OXPROPS "PidLid…"), with their sets.
const (
	// PSETID_Address
	lidWorkAddressStreet     = 0x8045
	lidWorkAddressCity       = 0x8046
	lidWorkAddressState      = 0x8047
	lidWorkAddressPostalCode = 0x8048
	lidWorkAddressCountry    = 0x8049
	lidWorkAddressPOBox      = 0x804A
	lidDistListOneOffMembers = 0x8054
	lidDistListMembers       = 0x8055
	lidEmail1DisplayName     = 0x8080 // +0x10 for Email2, +0x20 for Email3
	lidEmail1AddrType        = 0x8082
	lidEmail1EmailAddress    = 0x8083
	lidEmail1OrigDisplayName = 0x8084
	lidEmail1OrigEntryID     = 0x8085

	// PSETID_Appointment
	lidAppointmentSequence   = 0x8201
	lidBusyStatus            = 0x8205
	lidLocation              = 0x8208
	lidAppointmentStartWhole = 0x820D
	lidAppointmentEndWhole   = 0x820E
	lidAppointmentSubType    = 0x8215
	lidAppointmentRecur      = 0x8216
	lidAppointmentStateFlags = 0x8217
	lidResponseStatus        = 0x8218
	lidRecurring             = 0x8223
	lidTimeZoneStruct        = 0x8233
	lidTimeZoneDescription   = 0x8234
	lidRecurrencePattern     = 0x8232
	lidTZDefStartDisplay     = 0x825E
	lidTZDefRecur            = 0x8260
	lidExceptionReplaceTime  = 0x8228
	lidCounterProposal       = 0x8257

	// PSETID_Meeting
	lidAttendeeCriticalChange = 0x0001
	lidGlobalObjectID         = 0x0003
	lidStartRecurrenceTime    = 0x000E
	lidOwnerCriticalChange    = 0x001A
	lidCleanGlobalObjectID    = 0x0023

	// PSETID_Task
	lidTaskStatus        = 0x8101
	lidPercentComplete   = 0x8102
	lidTaskStartDate     = 0x8104
	lidTaskDueDate       = 0x8105
	lidTaskDateCompleted = 0x810F
	lidTaskComplete      = 0x811C
	lidTaskOwner         = 0x811F
	lidTaskFRecurring    = 0x8126

	// PSETID_Common
	lidReminderDelta = 0x8501
	lidReminderSet   = 0x8503
	lidReminderTime  = 0x8502 // PidLidReminderTime (MS-OXORMDR 2.2.1.4)
	lidFlagRequest   = 0x8530 // PidLidFlagRequest (MS-OXOFLAG 2.2.1.9)
	lidCommonStart   = 0x8516
	lidCommonEnd     = 0x8517
)
