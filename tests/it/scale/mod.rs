//! More than one gateway: replicas over one database, as processes behind a balancer and
//! side by side in this process (`replicas`), and key limits held across them by leases
//! (`shared_limits`).

mod replicas;
mod shared_limits;
