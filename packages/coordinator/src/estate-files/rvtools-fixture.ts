// A small RVTools export for tests: the four sheets as an RVTools 4.x CSV export writes them.

/** Sheet name -> CSV text. Three hosts, three datastores, four VMs (one off, one template). */
export const RVTOOLS_FIXTURE: Record<"vInfo" | "vDisk" | "vHost" | "vDatastore", string> = {
  vInfo: [
    "\ufeffVM,Powerstate,Template,CPUs,Memory,Provisioned MiB,In Use MiB,Path,Host,Cluster",
    "web-1,poweredOn,False,2,4096,102400,51200,[ds-a] web-1/web-1.vmx,esx-1,c1",
    '"db, primary",poweredOn,False,8,65536,409600,307200,"[ds-b] db/db.vmx",esx-2,c1',
    "old,poweredOff,False,1,1024,1024,1024,[ds-a] old/old.vmx,esx-1,c1",
    "tpl,poweredOff,True,1,1024,20480,10240,[ds-c] tpl/tpl.vmtx,esx-3,c1",
    "",
  ].join("\r\n"),
  vDisk: [
    "VM,Powerstate,Disk,Capacity MiB,Thin,Path,Host",
    "web-1,poweredOn,Hard disk 1,102400,True,[ds-a] web-1/web-1.vmdk,esx-1",
    '"db, primary",poweredOn,Hard disk 1,204800,False,"[ds-b] db/db.vmdk",esx-2',
    '"db, primary",poweredOn,"Hard disk 2\n(logs)",204800,False,[ds-c] db/db_1.vmdk,esx-2',
    "old,poweredOff,Hard disk 1,1024,True,[ds-a] old/old.vmdk,esx-1",
    "tpl,poweredOff,Hard disk 1,20480,True,[ds-c] tpl/tpl.vmdk,esx-3",
    "",
  ].join("\r\n"),
  vHost: ["Host,Cluster,# CPU,# VMs", "esx-1,c1,2,2", "esx-2,c1,2,1", "esx-3,c1,2,0", ""].join(
    "\n",
  ),
  vDatastore: [
    "Name,Type,Capacity MiB,Provisioned MiB,In Use MiB,Free MiB",
    "ds-a,VMFS,1048576,103424,524288,524288",
    "ds-b,VMFS,1048576,409600,524288,524288",
    "ds-c,NFS,2097152,225280,262144,1835008",
    "",
  ].join("\n"),
};
