// The Dataverse Web API subset crmbridge pushes to and pulls from, served by
// SAP CAP at the same path. Entity sets and attribute names are Dataverse's.
using cap from '../db/schema';

@path: '/api/data/v9.2'
service Dataverse {
  entity accounts        as projection on cap.accounts;
  entity appointments    as projection on cap.appointments;
  entity contacts        as projection on cap.contacts;
  entity emails          as projection on cap.emails;
  entity faxes           as projection on cap.faxes;
  entity leads           as projection on cap.leads;
  entity letters         as projection on cap.letters;
  entity lists           as projection on cap.lists;
  entity opportunities   as projection on cap.opportunities;
  entity phonecalls      as projection on cap.phonecalls;
  entity tasks           as projection on cap.tasks;
  entity activityparties as projection on cap.activityparties;
}
